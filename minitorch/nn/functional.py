"""``minitorch.nn.functional`` (import as F): the stateless ops, re-exported by name.

Each function lives in the ops module that explains it; this file only gathers them.
"""
from ..ops.activation import (elu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus,
                              tanh)
from ..ops.linalg import linear
from ..ops.shape import pad
from ..ops.loss import cross_entropy, mse_loss, nll_loss
from ..ops.attention import scaled_dot_product_attention
from ..ops.embedding import embedding
from ..ops.interpolate import interpolate, upsample
from ..ops.conv_transpose import conv1d, conv_transpose1d, conv_transpose2d
from ..ops.unpool import max_unpool2d
from ..ops.pointwise_loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                  huber_loss, kl_div, l1_loss, smooth_l1_loss)
from ..ops.conv import conv2d, conv2d_reference
from ..ops.dropout import dropout, dropout2d
from ..ops.norm import batch_norm
from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d

# inplace= forms of the activations and dropout (they wrap the ops above)
from ..ops.inplace import dropout, dropout2d, elu, leaky_relu, relu, relu_  # noqa: E402,F811
from ..ops.layer_norm import group_norm, layer_norm, local_response_norm  # noqa: E402
# more activations (issue 13)
from ..ops.activation import (celu, gelu, glu, hardshrink, hardsigmoid, hardswish,  # noqa: E402
                              hardtanh, logsigmoid, mish, prelu, relu6, selu, silu, softshrink,
                              softsign, tanhshrink, threshold)
from ..ops.adaptive_max_pool import adaptive_max_pool2d  # noqa: E402
from ..ops.counting import one_hot  # noqa: E402
from ..ops.reduce import normalize  # noqa: E402
from ..ops.distance import cosine_similarity, pairwise_distance  # noqa: E402
