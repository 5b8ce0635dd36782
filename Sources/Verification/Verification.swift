import Models
import TensorStore
