import Models

/// Every family the library knows. Adding a source means adding its mapper here; the models never change.
enum FamilyRegistry {
    /// Tried in order: an explicit `--arch` description first, then the mappers that read architecture from
    /// the file itself.
    static let mappers: [any CheckpointMapper.Type] = [
        SequentialArchFileMapper.self,
        KerasSequentialMapper.self,
        StyleGAN2NVLabsMapper.self,
        StyleGAN2RosinalityMapper.self,
        StyleGAN2TensorFlowMapper.self,
        DCGANPyTorchMapper.self,
        GigaGANLucidrainsMapper.self,
        StyleGANv1TensorFlowMapper.self,
        StyleGAN3NVLabsMapper.self,
        BigGANDeepHFMapper.self,
        BigGANAjbrockMapper.self,
    ]
    static let architectures: [any CanonicalArchitecture.Type] = [
        SequentialArchitecture.self,
        StyleGAN2Architecture.self,
        GigaGANArchitecture.self,
        StyleGANv1Architecture.self,
        StyleGAN3Architecture.self,
        BigGANDeepArchitecture.self,
        BigGANArchitecture.self,
    ]
}
