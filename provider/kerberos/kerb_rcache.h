/*
 * provider/kerberos/kerb_rcache.h - the acceptor's replay cache.
 *
 * RFC 4120 sec. 3.2.3: an acceptor that promises replay detection must
 * remember every authenticator it accepted until the authenticator could
 * no longer pass the clock-skew check, and refuse a second copy.  The
 * Kerberos acceptor calls kerb_rcache_check_store() once per AP-REQ when
 * the application asked for replay detection, with a tag (SHA-256 over
 * the authenticator ciphertext and the server principal) and the time
 * after which that authenticator would be refused as too old anyway
 * (authenticator ctime + clock skew).
 *
 * The cache is one file, shared by every process of a service (a
 * pre-forking server's workers) and surviving restarts: a replayed AP-REQ
 * after a server restart is still caught.  It is a fixed-size hash table
 * on disk where each tag has two candidate buckets, so every call costs
 * the same handful of system calls whatever the table holds
 * (docs/rcache.md).
 *
 * File format (version 1; integers big-endian):
 *
 *     offset  size  field
 *          0     8  magic "HSMSSPRC"
 *          8     4  format version (1)
 *         12     4  slot length (KERB_RCACHE_SLOT_LEN, 40)
 *         16     8  slot count n (1 .. KERB_RCACHE_MAX_SLOTS)
 *         24     4  bucket size b (1 .. KERB_RCACHE_BUCKET; n % b == 0)
 *         28     4  reserved, 0
 *         32    16  hash key: random, made when the file is created
 *         48     8  reserved, 0
 *         56     8  header check: SipHash-2-4, all-zero key, of bytes 0..55
 *         64  n*40  slots: tag (32 bytes) || expiry (signed 64-bit seconds)
 *
 * An all-zero slot is empty.  Slots form n / b buckets of b slots;
 * bucket i holds slots i*b .. i*b + b - 1.  With h = SipHash-2-4(hash
 * key, tag), a tag lives in bucket (h mod 2^32) mod (n / b) or in bucket
 * (h >> 32) mod (n / b), in any slot.  A slot whose expiry is <= now is
 * free space.  The file is exactly 64 + 40 n bytes, allocated in full
 * when it is created.  Nothing in it is secret (tags are hashes of
 * ciphertext); the hash key is what keeps a client from aiming tags at
 * chosen buckets, so the file is still kept 0600 in a 0700 directory.
 *
 * Concurrency: a kerb_rcache may be shared by the threads of a process
 * (a mutex per handle) and the file by any number of handles and
 * processes (open-file-description record locks on the two buckets).
 * After fork() the child's first call reopens the file, because a lock
 * held through an inherited descriptor would not exclude the parent.  Do
 * not fork while another thread is inside a call on the same handle.
 *
 * Durability: entries are not fsync'ed (like MIT krb5's file2 cache).  A
 * process crash loses nothing; an operating-system crash or power loss
 * may lose the entries of the last seconds.  Creation is fsync'ed.
 */
#ifndef HSMSSP_KERB_RCACHE_H
#define HSMSSP_KERB_RCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct kerb_rcache kerb_rcache;

#define KERB_RCACHE_TAG_LEN 32
/* Bytes per slot on disk: tag + 64-bit expiry. */
#define KERB_RCACHE_SLOT_LEN 40
/* Bytes before the first slot. */
#define KERB_RCACHE_HEADER_LEN 64
/* Slots of a table made with max_entries 0. */
#define KERB_RCACHE_DEFAULT_SLOTS 65536
/* Largest slot count accepted, asked for or read from a file (640 MiB). */
#define KERB_RCACHE_MAX_SLOTS (1u << 24)
/* Slots per bucket (fewer only in a table smaller than that).  A call
 * reads two buckets: at most 32 slots, 1280 bytes. */
#define KERB_RCACHE_BUCKET 16

/* Opens (creating if needed) the replay cache file at path.  The parent
 * directory is created 0700 when missing (only the last component); the
 * file is created 0600, fully allocated and initialised under a temporary
 * name and then linked into place, so another process never sees it half
 * made.  Refuses (HSMSSP_ERR_FILE_PERMS) a file or directory writable by
 * group/others or owned by another uid than the process's euid.
 * max_entries bounds the table (0 = default 65536; more than
 * KERB_RCACHE_MAX_SLOTS is HSMSSP_ERR_INVALID_ARGUMENT): a new table gets
 * max_entries slots rounded down to whole buckets of 16 (or one bucket
 * of max_entries slots when it is below 16).  An existing file
 * made with another size is used with its own size.  A corrupted file
 * (bad magic/version/size/header check) fails with HSMSSP_ERR_RCACHE_IO
 * and a detail telling the operator to remove it: fail closed, never
 * silently reset.  A path that is a symbolic link, a directory or
 * another non-regular file, and any I/O failure, is HSMSSP_ERR_RCACHE_IO
 * too.  *rc_out is NULL on failure; free with kerb_rcache_close(). */
hsmssp_err kerb_rcache_open(const char *path, size_t max_entries,
                            kerb_rcache **rc_out) BASE_WUR;

/* Closes the file and frees rc.  NULL is fine. */
void kerb_rcache_close(kerb_rcache *rc);

/* Atomically, across threads AND processes: if an entry with this tag
 * exists whose expiry is > now, fails with HSMSSP_ERR_REPLAY; otherwise
 * stores (tag, expires) and returns HSMSSP_OK.  Expired entries are
 * reusable space.  An entry that is already expired (expires <= now) is
 * checked but not stored: it could never be matched.
 * HSMSSP_ERR_RCACHE_FULL when no slot of the tag's two buckets can take
 * the entry (all unexpired); HSMSSP_ERR_RCACHE_IO when the file cannot be
 * locked/read/written (fail closed: the caller rejects the
 * authentication).  now < 0 is HSMSSP_ERR_INVALID_ARGUMENT.  Bounded
 * work per call: two buckets read (at most 2 * KERB_RCACHE_BUCKET slots,
 * one pread each), one slot written, three or four fcntl calls. */
hsmssp_err kerb_rcache_check_store(kerb_rcache *rc,
                                   const uint8_t tag[KERB_RCACHE_TAG_LEN],
                                   int64_t now, int64_t expires) BASE_WUR;

/* Counts of live (unexpired at now) and total slots, for tests and
 * `hsmssp` tooling.  Reads the whole table under a shared lock: O(n), not
 * for the authentication path. */
hsmssp_err kerb_rcache_stats(kerb_rcache *rc, int64_t now, size_t *live_out,
                             size_t *slots_out) BASE_WUR;

/* Geometry of an open cache, and the I/O of the last check_store call
 * made through this handle (any thread): what tooling prints and what the
 * tests use to check that a call stays within its two buckets. */
typedef struct kerb_rcache_info {
    uint64_t slots;           /* n, from the file's header */
    uint32_t bucket;          /* b, from the file's header */
    size_t last_read_bytes;   /* bytes pread by the last check_store */
    size_t last_write_bytes;  /* bytes pwritten by the last check_store */
    unsigned last_read_calls; /* pread calls of the last check_store */
} kerb_rcache_info;

/* Fills *info_out (cleared on entry).  Never fails on a valid rc. */
hsmssp_err kerb_rcache_get_info(kerb_rcache *rc,
                                kerb_rcache_info *info_out) BASE_WUR;

/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", 2012) of len bytes at msg under a 16-byte key: the slot index
 * and header-check function of the file format.  Exposed so that tests
 * and tools can locate a tag's buckets and check a header. */
uint64_t kerb_rcache_siphash24(const uint8_t key[16], const void *msg,
                               size_t len);

#endif
