import Models

/// Every family the library knows. Adding a source means adding its mapper here; the models never change.
enum FamilyRegistry {
    static let mappers: [any CheckpointMapper.Type] = []
    static let architectures: [any CanonicalArchitecture.Type] = []
}
