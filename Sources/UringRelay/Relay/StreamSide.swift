/// One socket of a relayed TCP connection, and the direction that reads from it.
///
/// Side 0 is the client, side 1 the upstream. Direction d reads from side d and writes to
/// side 1-d, so everything about "bytes read here, waiting to go out there" lives here:
/// the queue of filled pool buffers (a linked list threaded through `BufferQueueLinks`, so
/// it costs nothing per connection beyond these fields) and the one send in flight.
struct StreamSide {
    var fd: Int32 = -1
    /// A multishot receive is armed on fd.
    var receiving = false
    /// A cancel of that receive was requested (backpressure); its last completion is due.
    var cancelling = false
    /// The peer finished sending (EOF); nothing more will be read from fd.
    var sawEOF = false
    /// Buffers read from fd and not yet fully sent to the other side.
    var queueHead: UInt16 = 0
    var queueTail: UInt16 = 0
    var queueCount: Int32 = 0
    /// A send of this direction's queue to the other socket is in flight.
    var sending = false
    /// After EOF and an empty queue, the other socket's write side was shut down.
    var forwardedEOF = false
    var shutdownInFlight = false
}
