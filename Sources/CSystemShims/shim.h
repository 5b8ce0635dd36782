#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H
// Linux calls Glibc's Swift module does not expose (they need _GNU_SOURCE), wrapped as inline functions.
#include <unistd.h>
#include <sys/syscall.h>

// copy_file_range(2): copies between two files inside the kernel. Returns bytes copied, or -1 with errno set.
static inline long gankit_copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, size_t len) {
#ifdef SYS_copy_file_range
    return syscall(SYS_copy_file_range, fd_in, off_in, fd_out, off_out, len, 0u);
#else
    (void)fd_in; (void)off_in; (void)fd_out; (void)off_out; (void)len;
    return -1;
#endif
}
#endif
