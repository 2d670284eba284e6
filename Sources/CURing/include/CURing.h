// CURing: the thin C layer between Swift and liburing / Linux.
// It holds only what Swift cannot reach directly; each wrapper says why it exists.
// Swift calls liburing's static inline functions (io_uring_get_sqe, io_uring_prep_*,
// io_uring_buf_ring_*) straight through this module.
#ifndef CURING_H
#define CURING_H

// features.h first: never define _GNU_SOURCE in a header (it breaks the Glibc module).
#include <features.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <liburing.h>

// ---- Constants: macros that Swift does not import (shifts and casts in #defines) ----
extern const uint32_t CURING_SETUP_SINGLE_ISSUER;
extern const uint32_t CURING_SETUP_DEFER_TASKRUN;
extern const uint32_t CURING_SETUP_COOP_TASKRUN;
extern const uint32_t CURING_SETUP_CQSIZE;
extern const uint32_t CURING_SETUP_SUBMIT_ALL;
extern const uint32_t CURING_CQE_F_BUFFER;
extern const uint32_t CURING_CQE_F_MORE;
extern const uint32_t CURING_CQE_F_NOTIF;
extern const uint32_t CURING_CQE_BUFFER_SHIFT;
extern const uint32_t CURING_FEAT_NODROP;
extern const uint32_t CURING_FEAT_FAST_POLL;
extern const uint32_t CURING_FEAT_EXT_ARG;
extern const uint32_t CURING_ASYNC_CANCEL_ALL;
extern const uint8_t CURING_IOSQE_BUFFER_SELECT;
extern const uint8_t CURING_IOSQE_CQE_SKIP_SUCCESS;
extern const int CURING_MSG_NOSIGNAL;
extern const int CURING_SOCK_STREAM;
extern const int CURING_SOCK_NONBLOCK;
extern const int CURING_SOCK_CLOEXEC;
extern const uint32_t CURING_EPOLLIN;
extern const uint32_t CURING_EPOLLOUT;
extern const uint32_t CURING_EPOLLRDHUP;
extern const uint32_t CURING_EPOLLHUP;
extern const uint32_t CURING_EPOLLERR;
extern const uint32_t CURING_EPOLLET;
extern const int CURING_EPOLL_CTL_ADD;
extern const int CURING_EPOLL_CTL_DEL;
// IORING_FSYNC_DATASYNC is a shifted macro (the spool's fdatasync through the ring).
extern const uint32_t CURING_FSYNC_DATASYNC;

// ---- Ring set-up ----
// Why: io_uring_queue_init_params returns -errno; this also records which optional set-up
// flags the kernel accepted, trying the best combination first (DESIGN §4).
// Returns 0 or -errno. *flags_used receives the setup flags of the ring that was created.
int curing_queue_init(struct io_uring *ring, unsigned entries, unsigned cq_entries,
                      uint32_t *flags_used, uint32_t *features);

// Why: io_uring_setup_buf_ring arrived in liburing 2.4; Debian 12 ships 2.3.
// mmaps a page-aligned ring of `entries` (a power of two) and registers it as group `bgid`.
// Returns the ring or NULL with *err = -errno.
struct io_uring_buf_ring *curing_setup_buf_ring(struct io_uring *ring, unsigned entries,
                                                int bgid, int *err);
// Unregisters and unmaps a ring made by curing_setup_buf_ring.
void curing_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
                          unsigned entries, int bgid);

// Why: io_uring_for_each_cqe is a macro. Copies up to `max` ready CQEs into the caller's
// arrays without advancing; the caller advances the CQ once per batch (io_uring_cq_advance).
unsigned curing_peek_batch(struct io_uring *ring, uint64_t *user_data, int32_t *res,
                           uint32_t *flags, unsigned max);

// Why: submit and wait with a timeout in one io_uring_enter (EXT_ARG); liburing's
// io_uring_submit_and_wait_timeout takes a struct pointer that is awkward from Swift.
// Returns the number submitted or -errno (-ETIME when the wait timed out is mapped to 0).
int curing_submit_and_wait_ms(struct io_uring *ring, unsigned wait_nr, int timeout_ms);

// Whether the running kernel supports an opcode (io_uring_get_probe_ring + opcode_supported).
int curing_opcode_supported(struct io_uring *ring, int opcode);

// ---- _GNU_SOURCE functions the Glibc module does not export ----
int curing_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int curing_pin_thread_to_cpu(int cpu);
// Names the calling thread (visible in top -H); pthread_setname_np is _GNU_SOURCE.
void curing_set_thread_name(const char *name);
// Why: <sys/timerfd.h> is not in the Swift Glibc module. A nonblocking, close-on-exec
// CLOCK_MONOTONIC timerfd (relay-bench paces open-loop load with it: epoll_wait's timeout is
// whole milliseconds, messages fall due every few microseconds). Returns the fd or -errno.
int curing_timerfd_create(void);
// Arms the timerfd to expire once at the absolute CLOCK_MONOTONIC time `at_ns` (0 disarms).
// Returns 0 or -errno.
int curing_timerfd_arm_at(int fd, uint64_t at_ns);
int curing_epoll_create(void);
int curing_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
// Waits for events; copies each event's data and flags into the arrays. Returns n or -errno.
int curing_epoll_wait(int epfd, uint64_t *data, uint32_t *events, int max, int timeout_ms);
int curing_eventfd(void);

// ---- Datagrams (the RTP fan-out) ----
extern const int CURING_MSG_DONTWAIT;
extern const int CURING_MSG_TRUNC;
extern const int CURING_SOCK_DGRAM;
// Why: recvmmsg is _GNU_SOURCE, and the epoll engine must leave each datagram in its buffer
// exactly as io_uring's multishot recvmsg does, so relays parse one format: a struct
// io_uring_recvmsg_out (namelen = the source address's real length, controllen 0, payloadlen =
// the datagram's real length, flags with MSG_TRUNC if it was cut), then `name_len` bytes for
// the source address, then the payload. One recvmmsg(MSG_DONTWAIT) for up to `count` buffers
// (at most 64). results[i] is the bytes used in bufs[i] (header + name_len + payload copied),
// as io_uring's CQE res. Returns the number of datagrams received or -errno.
int curing_recvmmsg_layout(int fd, void *const *bufs, unsigned buf_len, unsigned name_len,
                           unsigned count, int32_t *results);
// Why: sendmmsg is _GNU_SOURCE. Sends msgs[0..<count] on fd in order with as few sendmmsg
// calls as errors allow (MSG_DONTWAIT|MSG_NOSIGNAL; never waits for room). results[i] is the
// bytes sent or -errno for each message: a message that fails gets its errno and sending goes
// on with the next one, except after EAGAIN (the socket's send buffer is full now), which is
// given to every remaining message without trying them. Returns the number of syscalls made.
int curing_sendmmsg_each(int fd, struct msghdr *const *msgs, unsigned count, int32_t *results);

#endif
