import TensorStore

/// Typed reads of configuration JSON, with errors that name the key.
extension JSONValue {
    public func int(_ key: String, in what: String) throws -> Int {
        guard let v = self[key]?.intValue else { throw ModelError("'\(key)' must be an integer", location: what) }
        return v
    }
    public func int(_ key: String, default d: Int) -> Int { self[key]?.intValue ?? d }
    public func double(_ key: String, in what: String) throws -> Double {
        guard let v = self[key]?.doubleValue else { throw ModelError("'\(key)' must be a number", location: what) }
        return v
    }
    public func double(_ key: String, default d: Double) -> Double { self[key]?.doubleValue ?? d }
    public func string(_ key: String, default d: String) -> String { self[key]?.stringValue ?? d }
    public func bool(_ key: String, default d: Bool) -> Bool { self[key]?.boolValue ?? d }
    public func ints(_ key: String) -> [Int]? {
        guard let a = self[key]?.arrayValue else { return nil }
        let v = a.compactMap(\.intValue)
        return v.count == a.count ? v : nil
    }

    public static func int(_ v: Int) -> JSONValue { .number(Double(v)) }
    public static func ints(_ v: [Int]) -> JSONValue { .array(v.map { .number(Double($0)) }) }
}
