@_exported import TensorStore
@_exported import Checkpoints
@_exported import Engine
@_exported import Models
@_exported import Verification
