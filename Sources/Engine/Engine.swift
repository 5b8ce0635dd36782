import TensorStore
import CCBLAS
