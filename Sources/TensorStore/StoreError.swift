/// Errors raised while reading or writing tensor files. Every reader of the project throws these or its own
/// error type conforming to `GANKitError`, so tools can map any of them to exit code 2 with one clear line.
public protocol GANKitError: Error, CustomStringConvertible {
    /// The file the problem was found in, if known.
    var file: String? { get }
}

/// A typed error of the tensor store and its formats (safetensors, npy, npz, zip).
public struct StoreError: GANKitError, Equatable {
    public enum Code: String, Sendable {
        /// The file ends before a structure it declares.
        case truncated
        /// A structure is malformed (bad magic, bad header, inconsistent fields).
        case corrupt
        /// Valid but not supported by this reader (a dtype, a format version, an encoding).
        case unsupported
        /// Sizes, offsets or strides overflow or point outside the data.
        case outOfBounds
        /// A declared size is above the reader's budget.
        case tooLarge
        /// A named tensor or member does not exist.
        case notFound
        /// Operating-system level failure (open, mmap, write, rename).
        case io
        /// Refused by policy (existing output without --force, dangerous content).
        case refused
    }

    public var code: Code
    public var file: String?
    public var tensor: String?
    public var message: String

    public init(_ code: Code, _ message: String, file: String? = nil, tensor: String? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.tensor = tensor
    }

    /// The same error with the file (and tensor) named, keeping any names already set.
    public func at(file: String? = nil, tensor: String? = nil) -> StoreError {
        var copy = self
        if copy.file == nil { copy.file = file }
        if copy.tensor == nil { copy.tensor = tensor }
        return copy
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let tensor { parts.append("tensor '\(tensor)'") }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
