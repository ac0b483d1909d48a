"""Pipeline: layers applied one after the other as one layer (Keras 3's ``Pipeline``), for an
image augmentation or preprocessing chain to drop into a model, or to call on data alone.
"""
from .._flagless import NOT_GIVEN
from .base import missing_input_gradient, snake_case
from .wrappers import _to_entry, _Wrapper


class Pipeline(_Wrapper):
    """Apply ``layers`` in order: ``Pipeline([RandomFlip("horizontal"), RandomRotation(0.1)])``.

    Unlike a ``Sequential`` nested in a model (whose layers join the model one by one), a Pipeline
    stays one layer: ``summary`` shows one line, and its config holds its layers. Called on its own
    it runs in training mode unless told otherwise (Keras': ``pipeline(images)`` augments them,
    ``pipeline(images, training=False)`` does not); in a model it follows the model (``fit``
    augments, ``predict`` and ``evaluate`` do not), and a pass given no flag, ``model(x)``, runs it
    in training mode, as Keras 3.15 does (``Layer.training_default``).

    Parameters
    ----------
    layers : list of Layer (or of their ``{"class_name", "config"}``)
        Not built yet, not wrappers (but ``RandAugment`` and ``RandomColorJitter``, as Keras'),
        none that keeps state besides its weights (an adapted
        ``Normalization``, a ``BatchNormalization``), makes a mask or takes texts: those belong in
        the model itself. Their weights are the pipeline's, ``layer_0_kernel``, ``layer_1_...``
        in order, and they draw from the pipeline's generator (``seed``).

    ``trainable`` is the pipeline's, for all its layers: freezing one of them
    (``pipeline.layers[0].trainable = False``) freezes the whole pipeline, as for the other
    wrappers, where Keras would freeze that layer alone; a layer to freeze on its own belongs in
    the model itself.

    Shapes: each layer's, in turn.

    Example
    -------
    >>> import numpy as np
    >>> from glassnet.layers import Rescaling, RandomFlip
    >>> flips = Pipeline([Rescaling(0.5), RandomFlip("horizontal")], seed=0)
    >>> x = np.arange(4.0).reshape(1, 1, 4, 1) * 2
    >>> [flips(x)[0, 0, :, 0].tolist() for _ in range(3)]     # training mode on its own, as Keras'
    [[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]]
    >>> flips(x, training=False)[0, 0, :, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]
    """

    stacks_lists = True          # called alone on a list of images: one batch, as Keras' (layers/base.py)

    def __init__(self, layers, **kwargs):
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError(f"Pipeline: layers must be a non-empty list of layers, got {layers!r:.80}")
        made = []
        for k, layer in enumerate(layers):
            layer = self._one_layer(layer, "a layer that is not a wrapper", "; put it in the model itself")
            if getattr(layer, "takes_text", False) or getattr(layer, "merges", False):
                what = "turns texts into numbers (first in a model)" if getattr(layer, "takes_text", False) \
                    else "merges several inputs"
                raise ValueError(f"Pipeline: layers[{k}], {layer.describe()}, {what}: put it in the model itself")
            if isinstance(getattr(layer, "state", None), dict):
                raise ValueError(f"Pipeline: layers[{k}], {layer.describe()}, keeps state besides its trained "
                                 f"weights (running statistics, adapted values), which a Pipeline does not carry; "
                                 f"put it in the model itself")
            if layer.input_shape is not None:
                raise ValueError(f"Pipeline: layers[{k}], {layer.describe()}, was given an input_shape; give it to "
                                 f"the Pipeline (the first layer's input)")
            if any(layer is other for other in made):
                raise ValueError(f"Pipeline: layers[{k}], {layer.describe()}, is listed twice; give each step a "
                                 f"layer of its own")
            made.append(layer)
        super().__init__(**kwargs)
        taken = set()
        for layer in made:           # Keras' names ("rescaling", "random_flip_1"), unique in the pipeline
            base = layer.name or snake_case(type(layer).__name__)
            name, k = base, 0
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            layer.name = name
            taken.add(name)
        self.pipeline_layers = made
        self._adopt()

    @property
    def layers(self):
        """The layers, in order (Keras' ``Pipeline.layers``)."""
        return list(self.pipeline_layers)

    def _inner_layers(self):
        return tuple((f"layer_{k}_", layer) for k, layer in enumerate(self.pipeline_layers))

    def _link(self):
        super()._link()
        for layer in self.pipeline_layers[1:]:      # each hands its input gradient to the one before
            layer.needs_input_gradient = True

    def _shapes(self, input_shape):
        """Each layer's input shape, and the last one's output shape."""
        shapes = [tuple(input_shape)]
        for layer in self.pipeline_layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        return shapes

    def build(self, input_shape):
        shape = tuple(input_shape)
        for prefix, layer in self._inner_layers():
            self._build_inner(layer, prefix, shape)
            if getattr(layer, "state", None):
                raise ValueError(f"{self.describe()}: {layer.describe()} keeps state besides its trained weights "
                                 f"({sorted(layer.state)}), which a Pipeline does not carry; put it in the model")
            shape = tuple(layer.output_shape(shape))
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        shape = tuple(sample_shape)
        for layer in self.pipeline_layers:
            layer.check_input_shape(shape)
            shape = tuple(layer.output_shape(shape))

    def output_shape(self, input_shape):
        return self._shapes(input_shape)[-1]

    def numbers_per_sample(self, input_shape):
        shapes = self._shapes(input_shape)
        return max(layer.numbers_per_sample(shape) for layer, shape in zip(self.pipeline_layers, shapes))

    def matmul_flops(self, batch_size):
        return max(layer.matmul_flops(batch_size) for layer in self.pipeline_layers)

    def check_input_values(self, x, name):
        self.pipeline_layers[0].check_input_values(x, name)

    @property
    def mask_refusal(self):
        """Keras' Pipeline hands a mask it receives to each of its layers that takes one (an LSTM
        skips the padding); this one does not, so a mask reaching such a layer is refused."""
        readers = [layer.describe() for layer in self.pipeline_layers if layer.reads_mask]
        if not readers:
            return None
        return (f"holds {', '.join(readers)}, to which Keras' Pipeline hands the mask and this one does not "
                f"(its masked steps would count as data); call {'it' if len(readers) == 1 else 'them'} in the "
                f"model itself")

    # Keras' Pipeline.call(inputs, training=True, mask=None) calls its layers with training=True
    # unless told otherwise (Layer.training_default; in a model: glassnet._flagless)
    training_default = True

    @property
    def discrete_input(self):
        return getattr(self.pipeline_layers[0], "discrete_input", False)     # an Embedding's ids first

    def __call__(self, x, training=NOT_GIVEN, mask=None):
        if isinstance(x, dict):     # Keras' {"images", "labels", "segmentation_masks"}: see segmentation.py
            from .segmentation import call_on_dict
            return call_on_dict(self, x, training, mask)
        return super().__call__(x, training=training, mask=mask)

    # the dict form's bounding boxes go through its layers in turn, each in its own bounding_box_format
    # (box_moves.move_through; a layer that cannot move them is refused by name before the draws)
    _moves_boxes = True

    def _box_steps(self, input_shape):
        shapes = self._shapes(input_shape)
        return zip(self.pipeline_layers, shapes, shapes[1:])

    def _transform_labels(self, labels, n):
        # each layer's own rule in turn (the mixing layers mix them, the others pass them on)
        for layer in self.pipeline_layers:
            transform = getattr(layer, "_transform_labels", None)
            labels = labels if transform is None else transform(labels, n)
        return labels

    def _check_dict(self, labels, masks, n, training):
        # what any of its layers would refuse after the draws of those before it, refused first
        from .segmentation import check_before_draws
        for layer in self.pipeline_layers:
            check_before_draws(layer, labels, masks, n, training)

    def _transform_masks(self, masks):
        # each layer's last call moved its pixels: the masks follow, layer by layer (each says how:
        # segmentation.check_moves_masks refused the others before the call)
        for layer in self.pipeline_layers:
            masks = layer._transform_masks(masks)
        return masks

    def forward(self, x, training=False):
        self._link()
        for layer in self.pipeline_layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad_output):
        self._link()
        grad = grad_output
        for k in range(len(self.pipeline_layers) - 1, -1, -1):
            layer = self.pipeline_layers[k]
            grad = layer.backward(grad)
            if grad is None:
                if k > 0:           # the layers before it need it: they would silently not learn
                    raise missing_input_gradient(layer)
                break               # the first layer, when nothing below the pipeline needs it
        return grad

    def get_config(self):
        return {**super().get_config(), "layers": [_to_entry(layer) for layer in self.pipeline_layers]}    # (and seed)
