/* Mutants for the power-loss suite's self-check, LD_PRELOADed into keyless only.
 *
 * KEYLESS_MUTANT selects which syncs become no-ops that report success:
 *   all    every fsync, fdatasync, syncfs, sync, sync_file_range
 *   blobs  fsync/fdatasync of staged blob files (<data>/tmp/<id>): the metadata commit is durable,
 *          the bytes it names may not be
 *   dirs   fsync of directories: renames into blobs/<xx>/ may not be durable
 * A keyless with such a hole must be caught losing acknowledged writes at a power cut (or refusing
 * to start); if the suite does not notice, the suite is what is broken. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static int skip(int fd) {
    const char *m = getenv("KEYLESS_MUTANT");
    if (!m || strcmp(m, "all") == 0) return 1;
    if (strcmp(m, "dirs") == 0) {
        struct stat st;
        return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (strcmp(m, "blobs") == 0) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n <= 0) return 0;
        path[n] = 0;
        return strstr(path, "/data/tmp/") != NULL;
    }
    return 0;
}

int fsync(int fd) {
    static int (*real)(int);
    if (skip(fd)) return 0;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (skip(fd)) return 0;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}

int syncfs(int fd) {
    static int (*real)(int);
    if (skip(fd)) return 0;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
    return real(fd);
}

void sync(void) {
    static void (*real)(void);
    const char *m = getenv("KEYLESS_MUTANT");
    if (!m || strcmp(m, "all") == 0) return;
    if (!real) real = (void (*)(void))dlsym(RTLD_NEXT, "sync");
    real();
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags) {
    static int (*real)(int, off_t, off_t, unsigned int);
    if (skip(fd)) return 0;
    if (!real) real = (int (*)(int, off_t, off_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
    return real(fd, off, n, flags);
}
