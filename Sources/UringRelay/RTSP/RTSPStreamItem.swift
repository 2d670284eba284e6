/// What `RTSPStreamParser.next` found at the front of its input.
public enum RTSPStreamItem: Equatable, Sendable {
    /// A whole request or response, body included.
    case message(RTSPMessage)
    /// A `$` frame (RFC 2326 §10.12); `payload` indexes the input of that call, so the relay
    /// can send the bytes on from the buffer they arrived in. May be empty.
    case interleaved(channel: UInt8, payload: Range<Int>)
    /// The front item is not complete yet: keep the bytes and call again with more.
    case needMore
    /// The connection cannot be parsed any further; the text says why (for a 400 and the log).
    case invalid(String)
}
