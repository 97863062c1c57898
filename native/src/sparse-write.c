#define _XOPEN_SOURCE 700
#include "sparse-write.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "codec-context.h"

static int zero_bytes(const uint8_t *bytes, size_t length) {
    if (length == PAGE) return is_zero_page(bytes);
    for (size_t i = 0; i < length; i++) if (bytes[i] != 0) return 0;
    return 1;
}

static int write_all(int fd, const uint8_t *bytes, size_t length, uint64_t position) {
    while (length > 0) {
        ssize_t written = pwrite(fd, bytes, length, (off_t)position);
        if (written < 0 && errno == EINTR) continue;
        if (written < 0) return errno;
        if (written == 0) return EIO;
        bytes += written;
        length -= (size_t)written;
        position += (uint64_t)written;
    }
    return 0;
}

int sparse_write(int fd, const uint8_t *bytes, size_t length, uint64_t position, size_t hole_bytes) {
    size_t data_start = 0, at = 0;
    while (at < length) {
        size_t end = at + PAGE < length ? at + PAGE : length;
        if (!zero_bytes(bytes + at, end - at)) {
            at = end;
            continue;
        }
        size_t zeros = at;
        at = end;
        while (at < length) {
            end = at + PAGE < length ? at + PAGE : length;
            if (!zero_bytes(bytes + at, end - at)) break;
            at = end;
        }
        /* A short zero run costs less written than as a write call more. */
        if (at - zeros < hole_bytes && at < length) continue;
        int error = write_all(fd, bytes + data_start, zeros - data_start, position + data_start);
        if (error != 0) return error;
        data_start = at;
    }
    return write_all(fd, bytes + data_start, length - data_start, position + data_start);
}
