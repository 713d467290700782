/*
 * provider/env.c - the runtime every package shares (provider/provider.h):
 * the configuration, the token opened on first use, per-package state
 * (the Kerberos replay cache and session-object key registry live there),
 * and references.
 *
 * Why lazily: an application may enumerate packages or query package
 * info without any token configured; only a credential needs the token,
 * and the failure then names the missing configuration.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/secmem.h"
#include "provider/config.h"
#include "provider/provider.h"

#define MAX_SLOTS 4

typedef struct env_slot {
    const void *owner; /* the package (or module) that made it */
    void *state;
    void (*destroy)(void *state);
} env_slot;

struct prov_env {
    pthread_mutex_t lock;
    unsigned refs;
    prov_config *cfg;
    hsm_token *tok;
    env_slot slots[MAX_SLOTS];
    pid_t pid;
};

int64_t
prov_now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

hsmssp_err
prov_env_open(const char *config_path, prov_env **env_out)
{
    prov_env *env = NULL;
    prov_config *cfg = NULL;
    hsmssp_err ret;

    *env_out = NULL;
    /* An explicit path must exist; the default one may be missing, in
     * which case every value is a default and acquiring a credential
     * reports that no module is configured. */
    ret = prov_config_load(config_path, config_path == NULL, &cfg);
    if (ret != HSMSSP_OK)
        return ret;
    env = calloc(1, sizeof(*env));
    if (env == NULL) {
        prov_config_free(cfg);
        return BASE_ERR0(HSMSSP_ERR_NOMEM);
    }
    pthread_mutex_init(&env->lock, NULL);
    env->refs = 1;
    env->cfg = cfg;
    env->pid = getpid();
    base_secmem_set_policy((base_mlock_policy)cfg->mlock_policy);
    *env_out = env;
    return HSMSSP_OK;
}

void
prov_env_ref(prov_env *env)
{
    pthread_mutex_lock(&env->lock);
    env->refs++;
    pthread_mutex_unlock(&env->lock);
}

void
prov_env_unref(prov_env *env)
{
    bool last;

    if (env == NULL)
        return;
    pthread_mutex_lock(&env->lock);
    last = --env->refs == 0;
    pthread_mutex_unlock(&env->lock);
    if (!last)
        return;
    /* Package state first: it may hold keys of the token. */
    for (size_t i = MAX_SLOTS; i > 0; i--)
        if (env->slots[i - 1].owner != NULL && env->slots[i - 1].destroy)
            env->slots[i - 1].destroy(env->slots[i - 1].state);
    hsm_token_close(env->tok);
    prov_config_free(env->cfg);
    pthread_mutex_destroy(&env->lock);
    free(env);
}

const prov_config *
prov_env_config(const prov_env *env)
{
    return env->cfg;
}

pid_t
prov_env_pid(const prov_env *env)
{
    return env->pid;
}

hsmssp_err
prov_env_token(prov_env *env, hsm_token **tok_out)
{
    hsm_config hc;
    hsmssp_err ret = HSMSSP_OK;

    *tok_out = NULL;
    pthread_mutex_lock(&env->lock);
    if (env->tok == NULL) {
        if (env->cfg->module == NULL) {
            ret = BASE_ERR(HSMSSP_ERR_CONFIG,
                           "no [token] module configured%s%s (set "
                           "HSMSSP_CONFIG to a configuration file)",
                           env->cfg->path ? " in " : "",
                           env->cfg->path ? env->cfg->path : "");
            goto out;
        }
        memset(&hc, 0, sizeof(hc));
        hc.module = env->cfg->module;
        hc.token_uri = env->cfg->token_uri;
        hc.init_args = env->cfg->init_args;
        hc.pin_file = env->cfg->pin_file;
        hc.policy = env->cfg->host_op_policy;
        ret = hsm_token_open(&hc, &env->tok);
        if (ret != HSMSSP_OK)
            goto out;
    }
    *tok_out = env->tok;
out:
    pthread_mutex_unlock(&env->lock);
    return ret;
}

/* Per-package state: made once by make() under the env lock, destroyed
 * with the env.  owner identifies the slot (a package's address). */
hsmssp_err
prov_env_state(prov_env *env, const void *owner,
               hsmssp_err (*make)(prov_env *env, void **state_out),
               void (*destroy)(void *state), void **state_out)
{
    hsmssp_err ret = HSMSSP_OK;
    size_t i;

    *state_out = NULL;
    pthread_mutex_lock(&env->lock);
    for (i = 0; i < MAX_SLOTS; i++)
        if (env->slots[i].owner == owner || env->slots[i].owner == NULL)
            break;
    if (i == MAX_SLOTS) {
        ret = BASE_ERR(HSMSSP_ERR_INTERNAL, "no free package state slot");
    } else if (env->slots[i].owner == NULL) {
        /* make() must not call back into the env's lock. */
        ret = make(env, &env->slots[i].state);
        if (ret == HSMSSP_OK) {
            env->slots[i].owner = owner;
            env->slots[i].destroy = destroy;
        }
    }
    if (ret == HSMSSP_OK)
        *state_out = env->slots[i].state;
    pthread_mutex_unlock(&env->lock);
    return ret;
}

void
prov_free_token(uint8_t *token)
{
    free(token);
}
