/*
 * tests/fuzz/driver.c - a main() for the fuzz targets when they are built
 * without libFuzzer (HSMSSP_FUZZ off): it replays seed corpora, so that
 * `make check` runs every seed through LLVMFuzzerTestOneInput() in the
 * normal and the ASan+UBSan trees.
 *
 *   fuzz_TARGET PATH...     PATH is a corpus directory or a single file
 *
 * Files of a directory run in name order (reproducible output), skipping
 * names that start with '.'.  Each input is handed over in a heap buffer
 * of exactly its size, as libFuzzer does, so ASan sees any over-read.  A
 * broken invariant aborts inside the target.  The driver fails when a
 * path cannot be read or when no input at all was run: an empty or
 * missing corpus must not pass as a green test.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads the whole file into *buf_out (malloc'ed, exact size; a 1-byte
 * block for an empty file).  Returns 0, or -1 after printing why. */
static int
read_input(const char *path, uint8_t **buf_out, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    int ret = -1;

    *buf_out = NULL;
    *len_out = 0;
    if (f == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fuzz driver: %s: cannot size\n", path);
        goto cleanup;
    }
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf == NULL) {
        fprintf(stderr, "fuzz driver: %s: out of memory\n", path);
        goto cleanup;
    }
    if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "fuzz driver: %s: short read\n", path);
        goto cleanup;
    }
    *buf_out = buf;
    *len_out = (size_t)len;
    buf = NULL;
    ret = 0;
cleanup:
    free(buf);
    fclose(f);
    return ret;
}

/* Runs one file; counts it in *runs. */
static int
run_file(const char *path, unsigned long *runs)
{
    uint8_t *buf;
    size_t len;

    if (read_input(path, &buf, &len) != 0)
        return -1;
    (void)LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    (*runs)++;
    return 0;
}

static int
skip_dot(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Runs every regular file of a directory, in name order. */
static int
run_dir(const char *dir, unsigned long *runs)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, skip_dot, alphasort);
    int ret = 0;

    if (n < 0) {
        fprintf(stderr, "fuzz driver: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        if (ret == 0 &&
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
                             names[i]->d_name) < sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode))
            ret = run_file(path, runs);
        free(names[i]);
    }
    free(names);
    return ret;
}

int
main(int argc, char **argv)
{
    unsigned long runs = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        (void)LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int r;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz driver: %s: %s\n", argv[i],
                    strerror(errno));
            return 1;
        }
        r = S_ISDIR(st.st_mode) ? run_dir(argv[i], &runs)
                                : run_file(argv[i], &runs);
        if (r != 0)
            return 1;
    }
    if (runs == 0) {
        fprintf(stderr, "fuzz driver: no input found\n");
        return 1;
    }
    printf("fuzz driver: %lu inputs replayed\n", runs);
    return 0;
}
