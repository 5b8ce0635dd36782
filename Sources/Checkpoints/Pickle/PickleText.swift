/// Operand decoders of the pickle machine: two's-complement longs and protocol-0 text forms.
enum PickleText {
    /// LONG1 / LONG4 payload: little-endian two's complement; an Int when it fits 64 bits.
    static func long(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        let n = raw.count
        if n == 0 { return .int(0) }
        let negative = raw[n - 1] & 0x80 != 0
        // Strip redundant sign-extension bytes before deciding whether it fits.
        var len = n
        while len > 1 {
            let b = raw[len - 1], next = raw[len - 2]
            if (!negative && b == 0x00 && next & 0x80 == 0) || (negative && b == 0xff && next & 0x80 != 0) { len -= 1 } else { break }
        }
        if len <= 8 {
            var v: UInt64 = negative ? ~0 : 0
            for i in 0..<len {
                v &= ~(UInt64(0xff) << (8 * UInt64(i)))
                v |= UInt64(raw[i]) << (8 * UInt64(i))
            }
            return .int(Int(Int64(bitPattern: v)))
        }
        return .bigInt(Array(raw.prefix(len)))
    }

    /// A decimal integer too large for Int, as little-endian two's complement bytes.
    static func decimalToTwosComplement(_ text: String) -> [UInt8]? {
        var s = Substring(text)
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        guard !s.isEmpty, s.count <= 4096, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var mag: [UInt8] = [0]  // little-endian magnitude
        for c in s.utf8 {
            var carry = Int(c - 48)
            for i in mag.indices {
                let v = Int(mag[i]) * 10 + carry
                mag[i] = UInt8(v & 0xff)
                carry = v >> 8
            }
            while carry > 0 { mag.append(UInt8(carry & 0xff)); carry >>= 8 }
        }
        mag.append(0)  // room for the sign bit
        if negative {
            var carry = 1
            for i in mag.indices {
                let v = Int(~mag[i]) + carry
                mag[i] = UInt8(v & 0xff)
                carry = v >> 8
            }
        }
        return mag
    }

    /// Python's repr of a byte string, `'abc\n'` or `"it's"`, back to bytes.
    static func unquote(_ t: String) -> [UInt8]? {
        let u = Array(t.trimmingSpaces.utf8)
        guard u.count >= 2, let q = u.first, q == u.last, q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { return nil }
        var out: [UInt8] = []
        var i = 1
        while i < u.count - 1 {
            let c = u[i]
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < u.count - 1 else { return nil }
            let e = u[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "0"): out.append(0)
            case UInt8(ascii: "x"):
                guard i + 2 <= u.count - 1, let v = UInt8(String(decoding: u[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
                i += 2
            default: out.append(e)
            }
        }
        return out
    }

    /// Python's raw-unicode-escape (UNICODE opcode): `\uXXXX` and `\UXXXXXXXX` escapes, other bytes Latin-1.
    static func rawUnicodeUnescape(_ t: String) -> String {
        var out = String.UnicodeScalarView()
        let u = Array(t.unicodeScalars)
        var i = 0
        while i < u.count {
            if u[i] == "\\", i + 1 < u.count, u[i + 1] == "u" || u[i + 1] == "U" {
                let len = u[i + 1] == "u" ? 4 : 8
                if i + 2 + len <= u.count, let v = UInt32(String(String.UnicodeScalarView(u[(i + 2)..<(i + 2 + len)])), radix: 16),
                   let sc = Unicode.Scalar(v) {
                    out.append(sc)
                    i += 2 + len
                    continue
                }
            }
            out.append(u[i])
            i += 1
        }
        return String(out)
    }
}
