/// A message on its way into the spool: the envelope as the session gives it, then the body
/// streamed into tmp/ID in chunks (one write in flight, at most two chunks in memory), then
/// fdatasync, rename into queue/ and the shared directory sync (group commit). Owned by the
/// worker's `SMTPSpoolWork`, not by the client: a commit under way finishes even if the
/// client leaves (it just gets no 250).
final class SpoolIncomingMessage {
    /// Key in `SMTPSpoolWork.incoming` and the tag's slot of its file operations.
    let slot: UInt32
    var envelope: SpoolEnvelope
    /// The client waiting for the 250, and its slot; nil once it left.
    var owner: SMTPClientConnection?
    let ownerIndex: Int
    var fd: Int32 = -1
    let tmpPath: String
    /// Bytes written to the file so far (the next write's offset).
    var fileOffset: Int64 = 0
    /// Received, not yet handed to a write.
    var filling: [UInt8] = []
    /// The bytes of the write in flight (stable until it completes).
    var writeBuffer: UnsafeMutableRawBufferPointer?
    var writeCount = 0
    var writeDone = 0
    var writing = false
    var syncing = false
    /// Bytes taken from the spool limit for this message.
    var reservedBytes = 0
    /// Where the body starts in the file.
    var headerBytes = 0
    /// The end of data was seen: write the rest, sync, commit.
    var ended = false
    /// The reply the end of data gets instead of 250 (452 full, 451 write error).
    var failure: SMTPReply?
    /// The transaction was abandoned; cleaned up when the operation in flight completes.
    var aborted = false

    init(slot: UInt32, envelope: SpoolEnvelope, owner: SMTPClientConnection, ownerIndex: Int, tmpPath: String) {
        self.slot = slot
        self.envelope = envelope
        self.owner = owner
        self.ownerIndex = ownerIndex
        self.tmpPath = tmpPath
    }

    deinit { writeBuffer?.deallocate() }
}
