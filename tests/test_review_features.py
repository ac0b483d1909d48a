"""Review of the feature layers (Hashing, Discretization): values Keras cannot hash refused by
name, NumPy scalars taken where Keras takes them."""
import numpy as np
import pytest

from glassnet.layers import Discretization, Hashing


@pytest.mark.parametrize("values,shown", [
    (np.array([[3.0], [1e20]]), r"1e\+20 at \(1, 0\)"),             # Keras' cast to int64 overflows
    (np.array([[-2.0 ** 64]]), r"-1.8446744073709552e\+19 at \(0, 0\)"),
    (np.array([[2.0 ** 63]]), r"9.223372036854776e\+18 at \(0, 0\)"),
])
def test_hashing_refuses_floats_beyond_int64_by_name(values, shown):
    with pytest.raises(ValueError, match=r"^layer Hashing: layer Hashing hashes strings or integers, got " + shown
                       + r" \(a float must be a whole number in int64's range\)$"):
        Hashing(8)(values)
    # the largest whole float32 below 2**63 is still taken, as the integer Keras makes of it
    edge = np.float64(np.nextafter(np.float32(2.0 ** 63), np.float32(0)))
    assert Hashing(8)(np.array([[edge]]))[0, 0] == Hashing(8)(np.array([[int(edge)]]))[0, 0]


def test_hashing_refuses_python_integers_wider_than_64_bits_by_name():
    with pytest.raises(ValueError, match=r"^layer Hashing: layer Hashing hashes integers in \[-2\*\*63, 2\*\*64\) \(int64 or "
                                         r"uint64\), got 1180591620717411303424 at flat index 1$"):
        Hashing(8)([[1], [2 ** 70]])
    with pytest.raises(ValueError, match=r"got -9223372036854775809 at flat index 0$"):
        Hashing(8)([[-2 ** 63 - 1]])
    # the ends of int64 and uint64 are taken: the same bins as those arrays give (Keras')
    ends = [-2 ** 63, 2 ** 64 - 1]
    assert Hashing(8)(np.array(ends, dtype=object)).tolist() == [
        Hashing(8)(np.array([ends[0]], dtype=np.int64))[0], Hashing(8)(np.array([ends[1]], dtype=np.uint64))[0]]


def test_discretization_takes_a_numpy_float_epsilon(rng):
    data = rng.normal(size=(300, 2))
    theirs = Discretization(num_bins=4, epsilon=float(np.float32(0.05)))
    theirs.adapt(data)
    ours = Discretization(num_bins=4, epsilon=np.float32(0.05))
    ours.adapt(data)
    assert ours.epsilon == float(np.float32(0.05)) and type(ours.get_config()["epsilon"]) is float
    assert ours.bin_boundaries == theirs.bin_boundaries and len(ours.bin_boundaries) == 3
    with pytest.raises(ValueError, match=r"epsilon must be a number in \(0, 1\), got np.float32\(1.5\)"):
        Discretization(num_bins=4, epsilon=np.float32(1.5))
    with pytest.raises(ValueError, match=r"epsilon must be a number in \(0, 1\), got np.True_"):
        Discretization(num_bins=4, epsilon=np.True_)


def test_a_numeric_layer_called_on_strings_names_itself():
    # NumPy's bare "could not convert string to float" named neither the layer nor the way out
    from glassnet.layers import Dense, Discretization
    for layer in (Discretization([0.0, 1.0]), Dense(2)):
        for x in (np.array([["a"]]), np.array([[1, "a"]], dtype=object)):
            with pytest.raises(TypeError, match=rf"layer {type(layer).__name__}.*expected numbers, got strings"):
                layer(x)
    # objects that are numbers (as pandas gives them) still cast to floats
    assert Discretization([0.0, 1.0])(np.array([[0.5, 2]], dtype=object)).tolist() == [[1.0, 2.0]]
