"""TensorFlow/Keras internals (``tf.py``, the former ``_tf_compat.py``) and TensorFlow's
quiet import (``quiet.py``); internals still used in other modules move here under issue
14 part 4."""
