// See CURing.h for why each wrapper exists.
#define _GNU_SOURCE
#include "CURing.h"

#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

const uint32_t CURING_SETUP_SINGLE_ISSUER = IORING_SETUP_SINGLE_ISSUER;
const uint32_t CURING_SETUP_DEFER_TASKRUN = IORING_SETUP_DEFER_TASKRUN;
const uint32_t CURING_SETUP_COOP_TASKRUN = IORING_SETUP_COOP_TASKRUN;
const uint32_t CURING_SETUP_CQSIZE = IORING_SETUP_CQSIZE;
const uint32_t CURING_SETUP_SUBMIT_ALL = IORING_SETUP_SUBMIT_ALL;
const uint32_t CURING_CQE_F_BUFFER = IORING_CQE_F_BUFFER;
const uint32_t CURING_CQE_F_MORE = IORING_CQE_F_MORE;
const uint32_t CURING_CQE_F_NOTIF = IORING_CQE_F_NOTIF;
const uint32_t CURING_CQE_BUFFER_SHIFT = IORING_CQE_BUFFER_SHIFT;
const uint32_t CURING_FEAT_NODROP = IORING_FEAT_NODROP;
const uint32_t CURING_FEAT_FAST_POLL = IORING_FEAT_FAST_POLL;
const uint32_t CURING_FEAT_EXT_ARG = IORING_FEAT_EXT_ARG;
const uint32_t CURING_ASYNC_CANCEL_ALL = IORING_ASYNC_CANCEL_ALL;
const uint8_t CURING_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT;
const uint8_t CURING_IOSQE_CQE_SKIP_SUCCESS = IOSQE_CQE_SKIP_SUCCESS;
const uint32_t CURING_FSYNC_DATASYNC = IORING_FSYNC_DATASYNC;
const int CURING_MSG_NOSIGNAL = MSG_NOSIGNAL;
const int CURING_SOCK_STREAM = SOCK_STREAM;
const int CURING_SOCK_NONBLOCK = SOCK_NONBLOCK;
const int CURING_SOCK_CLOEXEC = SOCK_CLOEXEC;
const uint32_t CURING_EPOLLIN = EPOLLIN;
const uint32_t CURING_EPOLLOUT = EPOLLOUT;
const uint32_t CURING_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CURING_EPOLLHUP = EPOLLHUP;
const uint32_t CURING_EPOLLERR = EPOLLERR;
const uint32_t CURING_EPOLLET = EPOLLET;
const int CURING_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int CURING_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
const int CURING_MSG_DONTWAIT = MSG_DONTWAIT;
const int CURING_MSG_TRUNC = MSG_TRUNC;
const int CURING_SOCK_DGRAM = SOCK_DGRAM;

int curing_queue_init(struct io_uring *ring, unsigned entries, unsigned cq_entries,
                      uint32_t *flags_used, uint32_t *features) {
    // Best first: SINGLE_ISSUER|DEFER_TASKRUN (6.1+), then COOP_TASKRUN (5.19+), then plain.
    const uint32_t tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int ret = -EINVAL;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = cq_entries;
        ret = io_uring_queue_init_params(entries, ring, &p);
        if (ret == 0) {
            *flags_used = p.flags;
            *features = p.features;
            return 0;
        }
        // EINVAL means "a flag this kernel does not know": try a smaller set.
        // Anything else (EPERM, ENOSYS, ENOMEM) will not be cured by other flags.
        if (ret != -EINVAL) return ret;
    }
    return ret;
}

struct io_uring_buf_ring *curing_setup_buf_ring(struct io_uring *ring, unsigned entries,
                                                int bgid, int *err) {
    size_t len = (size_t)entries * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_ring *br = mem;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)br;
    reg.ring_entries = entries;
    reg.bgid = (unsigned short)bgid;
    int ret = io_uring_register_buf_ring(ring, &reg, 0);
    if (ret < 0) {
        munmap(mem, len);
        *err = ret;
        return NULL;
    }
    *err = 0;
    return br;
}

void curing_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
                          unsigned entries, int bgid) {
    io_uring_unregister_buf_ring(ring, bgid);
    munmap(br, (size_t)entries * sizeof(struct io_uring_buf));
}

unsigned curing_peek_batch(struct io_uring *ring, uint64_t *user_data, int32_t *res,
                           uint32_t *flags, unsigned max) {
    unsigned head, n = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == max) break;
        user_data[n] = cqe->user_data;
        res[n] = cqe->res;
        flags[n] = cqe->flags;
        n++;
    }
    return n;
}

int curing_submit_and_wait_ms(struct io_uring *ring, unsigned wait_nr, int timeout_ms) {
    if (timeout_ms < 0) return io_uring_submit_and_wait(ring, wait_nr);
    struct __kernel_timespec ts;
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL;
    struct io_uring_cqe *cqe = NULL;
    int ret = io_uring_submit_and_wait_timeout(ring, &cqe, wait_nr, &ts, NULL);
    if (ret == -ETIME || ret == -EINTR) return 0;
    return ret;
}

int curing_opcode_supported(struct io_uring *ring, int opcode) {
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    if (!probe) return 0;
    int ok = io_uring_opcode_supported(probe, opcode);
    io_uring_free_probe(probe);
    return ok;
}

int curing_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    int ret = accept4(fd, addr, len, flags);
    return ret < 0 ? -errno : ret;
}

int curing_pin_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int curing_timerfd_create(void) {
    int ret = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return ret < 0 ? -errno : ret;
}

int curing_timerfd_arm_at(int fd, uint64_t at_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof(spec));
    spec.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
    spec.it_value.tv_nsec = (long)(at_ns % 1000000000u);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0 ? -errno : 0;
}

int curing_epoll_create(void) {
    int ret = epoll_create1(EPOLL_CLOEXEC);
    return ret < 0 ? -errno : ret;
}

int curing_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    // Why: struct epoll_event is packed on x86_64, which Swift does not lay out reliably.
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    int ret = epoll_ctl(epfd, op, fd, &ev);
    return ret < 0 ? -errno : 0;
}

int curing_epoll_wait(int epfd, uint64_t *data, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        data[i] = evs[i].data.u64;
        events[i] = evs[i].events;
    }
    return n;
}

int curing_eventfd(void) {
    int ret = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return ret < 0 ? -errno : ret;
}

void curing_set_thread_name(const char *name) {
    char shortName[16];
    strncpy(shortName, name, sizeof(shortName) - 1);
    shortName[sizeof(shortName) - 1] = 0;
    pthread_setname_np(pthread_self(), shortName);
}

int curing_recvmmsg_layout(int fd, void *const *bufs, unsigned buf_len, unsigned name_len,
                           unsigned count, int32_t *results) {
    enum { MAX = 64 };
    struct mmsghdr msgs[MAX];
    struct iovec iovs[MAX];
    const unsigned header = (unsigned)sizeof(struct io_uring_recvmsg_out) + name_len;
    if (count > MAX) count = MAX;
    if (buf_len <= header) return -EINVAL;
    for (unsigned i = 0; i < count; i++) {
        unsigned char *b = bufs[i];
        iovs[i].iov_base = b + header;
        iovs[i].iov_len = buf_len - header;
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_name = b + sizeof(struct io_uring_recvmsg_out);
        msgs[i].msg_hdr.msg_namelen = name_len;
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do {
        // MSG_TRUNC: msg_len is the datagram's real length even when it did not fit.
        n = recvmmsg(fd, msgs, count, MSG_DONTWAIT | MSG_TRUNC, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        struct io_uring_recvmsg_out *out = bufs[i];
        unsigned real = msgs[i].msg_len;
        unsigned room = buf_len - header;
        out->namelen = msgs[i].msg_hdr.msg_namelen;
        out->controllen = 0;
        out->payloadlen = real;
        out->flags = (uint32_t)msgs[i].msg_hdr.msg_flags;
        results[i] = (int32_t)(header + (real < room ? real : room));
    }
    return n;
}

int curing_sendmmsg_each(int fd, struct msghdr *const *msgs, unsigned count, int32_t *results) {
    // Up to 128 messages per syscall (the kernel's bound is UIO_MAXIOV, 1024).
    struct mmsghdr batch[128];
    int syscalls = 0;
    unsigned i = 0;
    while (i < count) {
        unsigned k = count - i;
        if (k > sizeof(batch) / sizeof(batch[0])) k = sizeof(batch) / sizeof(batch[0]);
        for (unsigned j = 0; j < k; j++) {
            batch[j].msg_hdr = *msgs[i + j];
            batch[j].msg_len = 0;
        }
        int n = sendmmsg(fd, batch, k, MSG_DONTWAIT | MSG_NOSIGNAL);
        syscalls++;
        if (n > 0) {
            for (int j = 0; j < n; j++) results[i + j] = (int32_t)batch[j].msg_len;
            i += (unsigned)n;
            continue;
        }
        int e = n < 0 ? errno : EIO;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            for (; i < count; i++) results[i] = -EAGAIN;
            break;
        }
        results[i++] = -e;
    }
    return syscalls;
}
