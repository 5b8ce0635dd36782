import Models

/// Every family the library knows. Adding a source means adding its mapper here; the models never change.
enum FamilyRegistry {
    static let mappers: [any CheckpointMapper.Type] = [
        StyleGANv1TensorFlowMapper.self,
        GigaGANLucidrainsMapper.self,
        StyleGAN3NVLabsMapper.self,
    ]
    static let architectures: [any CanonicalArchitecture.Type] = [
        StyleGANv1Architecture.self,
        GigaGANArchitecture.self,
        StyleGAN3Architecture.self,
    ]
}
