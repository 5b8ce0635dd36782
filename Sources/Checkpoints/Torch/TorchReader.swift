#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorStore

/// Reads PyTorch containers (zip, legacy stream, tar) and plain pickles (NVlabs, TF-era network pickles).
/// Nothing in them is ever executed: the pickle machine interprets an allowlist symbolically and keeps
/// everything else as inert nodes; files referencing dangerous globals are refused unless allowed.
public enum TorchReader {
    public static func readZip(zip: ZipArchive, path: String, options: LoadOptions) throws -> Checkpoint {
        let context = makeContext(bytes: zip.file.count, options: options)
        return try run(path: path, context: context, options: options) {
            let root = try TorchZipContainer.read(zip: zip, context: context)
            return try assemble(root: root, path: path, format: .torchZip, context: context, options: options)
        }
    }

    public static func readLegacy(file: MappedFile, path: String, options: LoadOptions) throws -> Checkpoint {
        let context = makeContext(bytes: file.count, options: options)
        return try run(path: path, context: context, options: options) {
            let source = try Storage(mapped: file, range: 0..<file.count)
            let (root, end) = try TorchLegacyStream.read(source: source, range: 0..<file.count, label: "stream", context: context)
            if end < file.count { context.warn("\(file.count - end) bytes after the last storage were ignored") }
            return try assemble(root: root, path: path, format: .torchLegacy, context: context, options: options)
        }
    }

    public static func readTar(file: MappedFile, path: String, options: LoadOptions) throws -> Checkpoint {
        let context = makeContext(bytes: file.count, options: options)
        return try run(path: path, context: context, options: options) {
            let root = try TorchTarContainer.read(file: file, context: context)
            return try assemble(root: root, path: path, format: .torchTar, context: context, options: options)
        }
    }

    public static func readPickle(file: MappedFile, path: String, options: LoadOptions) throws -> Checkpoint {
        let context = makeContext(bytes: file.count, options: options)
        return try run(path: path, context: context, options: options) {
            let source = try Storage(mapped: file, range: 0..<file.count)
            var machine = PickleMachine(source: source, label: "pickle", context: context)
            let root = try machine.run()
            return try assemble(root: root, path: path, format: .pickle, context: context, options: options)
        }
    }

    static func makeContext(bytes: Int, options: LoadOptions) -> PickleContext {
        PickleContext(allowDangerousGlobals: options.allowDangerousGlobals, sourceBytes: bytes, maxInflatedBytes: options.maxInflatedBytes)
    }

    /// Names the file in every error.
    /// Names the file in every error. A dangerous global met before a structural error is what the user
    /// needs to hear about, so the refusal takes precedence.
    private static func run(path: String, context: PickleContext, options: LoadOptions, _ body: () throws -> Checkpoint) throws -> Checkpoint {
        do {
            return try body()
        } catch let e as StoreError {
            let dangerous = context.globals.filter { $0.safety == .dangerous }
            if !dangerous.isEmpty && !options.allowDangerousGlobals && e.code != .refused {
                context.tearDown()
                var r = refusal(dangerous, sites: [])
                r.message += " (the file is also malformed: \(e.message))"
                throw r.at(file: path)
            }
            context.tearDown()
            throw e.at(file: path)
        }
    }

    static func assemble(root: PickleValue, path: String, format: CheckpointFormat, context: PickleContext,
                         options: LoadOptions) throws -> Checkpoint {
        defer { context.tearDown() }
        let dangerous = context.globals.filter { $0.safety == .dangerous }
        let walker = ObjectGraphWalker(context: context)
        let tree: CheckpointTree
        do {
            tree = try walker.walk(root, path: [], label: "root")
        } catch {
            if !dangerous.isEmpty && !options.allowDangerousGlobals {
                walker.findDangerous(root)
                throw refusal(dangerous.map { g in
                    var g = g
                    if let site = walker.dangerousSites.first(where: { $0.global.module == g.module && $0.global.name == g.name }) {
                        g.location = "\(site.path) (\(g.location))"
                    }
                    return g
                }, sites: [])
            }
            throw error
        }
        var globals = context.globals
        if !dangerous.isEmpty { walker.findDangerous(root) }
        for i in globals.indices where globals[i].safety == .dangerous {
            if let site = walker.dangerousSites.first(where: { $0.global.module == globals[i].module && $0.global.name == globals[i].name }) {
                globals[i].location = "\(site.path) (\(globals[i].location))"
            }
        }
        if !dangerous.isEmpty {
            if !options.allowDangerousGlobals {
                throw refusal(globals.filter { $0.safety == .dangerous }, sites: walker.dangerousSites.map(\.path))
            }
            context.warn("dangerous globals kept as inert nodes (--allow-dangerous-globals): "
                         + Set(dangerous.map(\.qualifiedName)).sorted().joined(separator: ", "))
        }
        var metadata = CheckpointMetadata.extract(root, context: context)
        if let config = configBeside(path) { metadata.append(("config.json", config)) }
        var hints = FamilyHints.hints(root: root, names: walker.store.names)
        if metadata.contains(where: { $0.0 == "config.json" }) { hints.append("config.json beside the file") }
        return Checkpoint(path: path, format: format, tensors: walker.store, metadata: metadata, tree: tree,
                          globals: globals, warnings: context.warnings, hints: hints)
    }

    private static func refusal(_ refs: [GlobalReference], sites: [String]) -> StoreError {
        let named = refs.prefix(6).map { "\($0.qualifiedName) at \($0.location)" }.joined(separator: "; ")
        return StoreError(.refused, "refused: the pickle references dangerous global(s) \(named). Nothing was executed; "
                          + "pass --allow-dangerous-globals to read the file with them kept as inert nodes")
    }

    /// A `config.json` in the same directory (HF BigGAN, ajbrock BigGAN constructor kwargs), at most 4 MB.
    static func configBeside(_ path: String) -> JSONValue? {
        var dir = path
        if let slash = dir.lastIndex(of: "/") { dir = String(dir[..<slash]) } else { dir = "." }
        let candidate = dir + "/config.json"
        guard let file = try? MappedFile(path: candidate), file.count <= 4 << 20 else { return nil }
        return try? JSONValue.parse(file.bytes)
    }
}
