/*
 * Guest memory to a file with its zero runs left as holes, for the ELF and win-dmp writers on the
 * Node file sink: the zero test and the positioned writes in one C loop, so a run of data costs a
 * pwrite and nothing in JavaScript (a guest whose zero pages lie scattered has tens of thousands
 * of such runs per GiB).
 */
#ifndef SLICE86_SPARSE_WRITE_H
#define SLICE86_SPARSE_WRITE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes bytes[0..length) at file offset `position` of `fd`, except zero runs (whole 4 KiB pages
 * from the start of `bytes`, the last page possibly short) of `hole_bytes` or more, or reaching
 * the end, which are skipped: the file's size is the caller's to set. Returns 0, or the errno of
 * the write that failed.
 */
int sparse_write(int fd, const uint8_t *bytes, size_t length, uint64_t position, size_t hole_bytes);

#endif
