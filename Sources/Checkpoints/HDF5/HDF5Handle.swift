import CHDF5
import TensorStore

/// One libhdf5 identifier, closed with the matching `H5?close` when the last reference goes away.
final class HDF5Handle {
    enum Kind { case file, group, dataset, attribute, dataspace, datatype, propertyList }

    let id: hid_t
    let kind: Kind
    /// Objects keep their file open while they live.
    private let parent: HDF5Handle?

    init(_ id: hid_t, _ kind: Kind, parent: HDF5Handle? = nil) {
        self.id = id
        self.kind = kind
        self.parent = parent
    }

    deinit {
        switch kind {
        case .file: _ = H5Fclose(id)
        case .group: _ = H5Gclose(id)
        case .dataset: _ = H5Dclose(id)
        case .attribute: _ = H5Aclose(id)
        case .dataspace: _ = H5Sclose(id)
        case .datatype: _ = H5Tclose(id)
        case .propertyList: _ = H5Pclose(id)
        }
    }
}

/// Turns libhdf5's error stack into `StoreError`s. The library's own printing is switched off (per thread,
/// since the thread-safe build keeps one error stack per thread) before every use.
enum HDF5Errors {
    static func silence() { _ = chdf5_silence_errors() }

    /// The library's messages for the last failure, innermost first, then clears the stack.
    static func drainMessages() -> [String] {
        final class Sink { var lines: [String] = [] }
        let sink = Sink()
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        _ = H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_UPWARD, { _, desc, data in
            guard let desc, let data else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(data).takeUnretainedValue()
            if let d = desc.pointee.desc {
                let text = String(cString: d)
                if !text.isEmpty && sink.lines.last != text { sink.lines.append(text) }
            }
            return 0
        }, unmanaged.toOpaque())
        _ = H5Eclear2(hid_t(H5E_DEFAULT))
        return sink.lines
    }

    /// An error for a failed call: `what` says what we tried, the library's innermost message says why.
    static func failure(_ what: String, file: String, tensor: String? = nil) -> StoreError {
        let messages = drainMessages()
        let why = messages.prefix(2).joined(separator: "; ")
        let lower = why.lowercased()
        let code: StoreError.Code = lower.contains("truncated") || lower.contains("eof") || lower.contains("end of file")
            ? .truncated : .corrupt
        let text = why.isEmpty ? "HDF5: \(what) failed" : "HDF5: \(what) failed (\(why))"
        return StoreError(code, text, file: file, tensor: tensor)
    }
}
