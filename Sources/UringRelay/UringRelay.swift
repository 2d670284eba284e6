// UringRelay: engines (io_uring and epoll) and the relay modes built on them.
