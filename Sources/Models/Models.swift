import Engine
import Checkpoints
