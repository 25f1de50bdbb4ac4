/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The input format of tests/fuzz/fuzz-dispatch, shared with the seed
 * generator tests/fuzz/fuzz-seeds:
 *
 *   byte 0   flags (FUZZ_FLAG_*; the low two bits pick the host layout)
 *   byte 1   how the stream is cut into the pieces the FrameReader gets:
 *            0 all at once, else the seed of a generator of piece sizes
 *   rest     the byte stream a client sends: ttrpc frames, or anything
 *
 * Process and thread ids: a 4-byte varint of FUZZ_MAGIC_VMM, _VCPU0 or
 * _VCPU1 anywhere in the stream is replaced by the (padded) varint of the
 * pid of the harness's stand-in VMM or the tid of one of its two threads
 * named "vcpu0" and "vcpu1", so that seeds can attach a real process of the
 * harness's own. Every other number is taken as it is. */

#define FUZZ_LAYOUT_MASK 0x03u          /* 0 hybrid, 1 v2, 2 v1, 3 hybrid */
#define FUZZ_FLAG_READ_ONLY 0x04u       /* the peer came in on the read-only socket */
#define FUZZ_FLAG_NOT_ROOT 0x08u        /* the peer is uid 1000, in no group */
#define FUZZ_FLAG_FILL 0x10u            /* through a pipe and frame_reader_fill() */
#define FUZZ_FLAG_SMALL_FRAMES 0x20u    /* maximum frame length FUZZ_SMALL_FRAME */

#define FUZZ_SMALL_FRAME 1024u

#define FUZZ_MAGIC_VMM 0x0F1E2D00u      /* >= 2^21 and < 2^28: a 4-byte varint */
#define FUZZ_MAGIC_VCPU0 0x0F1E2D01u
#define FUZZ_MAGIC_VCPU1 0x0F1E2D02u

static inline void fuzz_varint4(unsigned v, unsigned char out[4])
{
        out[0] = 0x80u | (v & 0x7fu);
        out[1] = 0x80u | ((v >> 7) & 0x7fu);
        out[2] = 0x80u | ((v >> 14) & 0x7fu);
        out[3] = (v >> 21) & 0x7fu;
}
