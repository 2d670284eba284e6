/// RTSP status codes (RFC 2326 §7.1.1) and their standard reason phrases, so replies built
/// from a bare code still carry the text clients and logs expect.
public enum RTSPStatus {
    public static let ok = 200
    public static let badRequest = 400
    public static let unauthorized = 401
    public static let notFound = 404
    public static let methodNotAllowed = 405
    public static let notAcceptable = 406
    public static let parameterNotUnderstood = 451
    public static let notEnoughBandwidth = 453
    public static let sessionNotFound = 454
    public static let methodNotValidInThisState = 455
    public static let aggregateOperationNotAllowed = 459
    public static let unsupportedTransport = 461
    public static let internalServerError = 500
    public static let notImplemented = 501
    public static let serviceUnavailable = 503
    public static let versionNotSupported = 505

    /// The RFC 2326 phrase for `status`; a class-level phrase for codes the RFC does not name
    /// (a reply must carry some text, and the class is what clients act on).
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 250: return "Low on Storage Space"
        case 300: return "Multiple Choices"
        case 301: return "Moved Permanently"
        case 302: return "Moved Temporarily"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 305: return "Use Proxy"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Time-out"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Request Entity Too Large"
        case 414: return "Request-URI Too Large"
        case 415: return "Unsupported Media Type"
        case 451: return "Parameter Not Understood"
        case 452: return "Conference Not Found"
        case 453: return "Not Enough Bandwidth"
        case 454: return "Session Not Found"
        case 455: return "Method Not Valid in This State"
        case 456: return "Header Field Not Valid for Resource"
        case 457: return "Invalid Range"
        case 458: return "Parameter Is Read-Only"
        case 459: return "Aggregate operation not allowed"
        case 460: return "Only aggregate operation allowed"
        case 461: return "Unsupported transport"
        case 462: return "Destination unreachable"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Time-out"
        case 505: return "RTSP Version not supported"
        case 551: return "Option not supported"
        case 100..<200: return "Informational"
        case 200..<300: return "Success"
        case 300..<400: return "Redirection"
        case 400..<500: return "Client Error"
        default: return "Server Error"
        }
    }
}
