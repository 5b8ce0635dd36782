/// Element types a checkpoint can hold. Raw values are the safetensors spellings.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }

    /// The safetensors dtype name.
    public var safetensorsName: String { rawValue }

    public init?(safetensorsName: String) { self.init(rawValue: safetensorsName) }

    /// numpy's type character and size without byte-order prefix, e.g. `f4`, `b1`.
    /// BF16 has no numpy spelling and returns nil.
    public var numpyKindSize: String? {
        switch self {
        case .f64: return "f8"
        case .f32: return "f4"
        case .f16: return "f2"
        case .bf16: return nil
        case .i64: return "i8"
        case .i32: return "i4"
        case .i16: return "i2"
        case .i8: return "i1"
        case .u64: return "u8"
        case .u32: return "u4"
        case .u16: return "u2"
        case .u8: return "u1"
        case .bool: return "b1"
        }
    }

    /// The lowercase name people read in listings (`float32`, `int64`, …), as numpy and torch spell it.
    public var displayName: String {
        switch self {
        case .f64: return "float64"
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .i64: return "int64"
        case .i32: return "int32"
        case .i16: return "int16"
        case .i8: return "int8"
        case .u64: return "uint64"
        case .u32: return "uint32"
        case .u16: return "uint16"
        case .u8: return "uint8"
        case .bool: return "bool"
        }
    }
}

/// Byte order of the elements in a storage.
public enum ByteOrder: String, Sendable {
    case little, big
    public static var host: ByteOrder { 1.littleEndian == 1 ? .little : .big }
}
