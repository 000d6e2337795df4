import pytest
import torch

from cm_toy import MLP, Precond, load_model, save_model
from cm_toy.networks import scalings


def test_boundary_condition_holds_exactly():
    torch.manual_seed(0)
    f = Precond(MLP(), sigma_data=1.0, sigma_min=0.002)
    x = torch.randn(64, 1) * 3
    assert torch.equal(f(x, torch.full((64,), 0.002)), x)  # bit for bit, whatever the weights


def test_edm_scalings_are_the_sigma_min_zero_case():
    sigma = torch.tensor([0.01, 0.5, 3.0, 80.0])
    c_skip, c_out, c_in, _ = scalings(sigma, 0.5)
    assert torch.allclose(c_skip, 0.25 / (sigma**2 + 0.25))
    assert torch.allclose(c_out, sigma * 0.5 / (sigma**2 + 0.25).sqrt())
    assert torch.allclose(c_in, 1 / (sigma**2 + 0.25).sqrt())
    # The network's training target (x0 - c_skip x) / c_out has unit variance (Karras et al. 2022, Appendix B.6).
    var = ((1 - c_skip) ** 2 * 0.25 + c_skip**2 * sigma**2) / c_out**2
    assert torch.allclose(var, torch.ones_like(sigma))


def test_precond_accepts_scalar_and_per_sample_sigma_and_rejects_bad_shapes():
    f = Precond(MLP(dim=2), sigma_data=1.0)
    x = torch.randn(5, 2)
    assert f(x, 0.3).shape == (5, 2)
    assert f(x, torch.rand(5) + 0.1).shape == (5, 2)
    assert f(x, torch.rand(5, 1) + 0.1).shape == (5, 2)
    with pytest.raises(ValueError, match="one value per row"):
        f(x, torch.rand(3))
    with pytest.raises(ValueError, match=r"shape \[batch, dim\]"):
        f(torch.randn(5), 0.3)


def test_conditional_mlp_uses_labels():
    torch.manual_seed(0)
    f = Precond(MLP(num_classes=3), sigma_data=1.0)
    x = torch.randn(4, 1)
    a = f(x, 1.0, torch.tensor([0, 0, 0, 0]))
    b = f(x, 1.0, torch.tensor([1, 1, 1, 1]))
    assert not torch.allclose(a, b)
    assert torch.equal(f(x, 1.0), f(x, 1.0, torch.full((4,), 3)))  # no label = the null class


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    f = Precond(MLP(hidden=16, depth=2), sigma_data=0.7, sigma_min=0.002)
    path = tmp_path / "model.pt"
    save_model(f, path)
    g = load_model(path)
    x = torch.randn(8, 1)
    assert torch.equal(f(x, 0.5), g(x, 0.5))
    assert g.sigma_min == 0.002 and g.sigma_data == 0.7
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_input_features_are_fixed_fourier_features_of_x_in():
    torch.manual_seed(0)
    a = MLP(dim=2)
    torch.manual_seed(1)
    b = MLP(dim=2)
    assert torch.equal(a.features.B, b.features.B)  # the same frequencies whatever the global seed
    x = torch.randn(5, 2)
    h = a.features(x)
    assert h.shape == (5, 2 + 2 * 16) and torch.equal(h[:, :2], x)
    assert torch.allclose(h[:, 2:18] ** 2 + h[:, 18:] ** 2, torch.ones(5, 16))  # sin^2 + cos^2
    assert MLP(x_features=0).features is None and MLP(x_features=0).layers[0].in_features == 1 + 17
    with pytest.raises(ValueError, match="x_features must be an integer >= 0"):
        MLP(x_features=-1)


def test_files_saved_before_input_features_load(tmp_path):
    f = Precond(MLP(hidden=16, depth=2, x_features=0), sigma_data=1.0, sigma_min=0.002)
    save_model(f, tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    del state["net"]["x_features"], state["net"]["x_scale"]  # the config an older version wrote
    torch.save(state, tmp_path / "old.pt")
    g = load_model(tmp_path / "old.pt")
    x = torch.randn(4, 1)
    assert g.net.features is None and torch.equal(f(x, 0.5), g(x, 0.5))


def test_precond_float32_rows_are_the_preconditioning_formula_bit_for_bit():
    torch.manual_seed(0)
    f = Precond(MLP(dim=2), sigma_data=0.5, sigma_min=0.002)
    x, sigma = torch.randn(9, 2), torch.rand(9) * 10 + 0.002
    c_skip, c_out, c_in, c_noise = scalings(sigma[:, None], 0.5, 0.002)
    assert torch.equal(f(x, sigma), c_skip * x + c_out * f.net(c_in * x, c_noise[:, 0]))


def test_precond_takes_any_trailing_shape_with_one_level_per_row():
    torch.manual_seed(0)
    f = Precond(MLP(dim=2), sigma_data=1.0, sigma_min=0.002)
    x, sigma = torch.randn(7, 2), torch.rand(7) * 5 + 0.01
    for shape in [(7, 2, 1), (7, 1, 2, 1)]:  # image-shaped batches holding the same 2 values per row
        assert torch.equal(f(x.reshape(shape), sigma).reshape(7, 2), f(x, sigma))
        assert torch.equal(f(x.reshape(shape), sigma[:, None]).reshape(7, 2), f(x, sigma))
    assert torch.equal(f(x.reshape(7, 2, 1), 0.7).reshape(7, 2), f(x, 0.7))
    with pytest.raises(ValueError, match="holds 4 values per row"):
        f(torch.randn(7, 2, 2), 0.7)
    with pytest.raises(ValueError, match="one value per row"):
        f(x.reshape(7, 2, 1), torch.rand(2))


def test_precond_takes_float64():
    torch.manual_seed(0)
    f = Precond(MLP(dim=2), sigma_data=1.0, sigma_min=0.002)
    x, sigma = torch.randn(6, 2, dtype=torch.float64), torch.rand(6, dtype=torch.float64) * 5 + 0.01
    # float32 weights: the preconditioning in float64 around the network in float32.
    c_skip, c_out, c_in, c_noise = scalings(sigma[:, None], 1.0, 0.002)
    out = f(x, sigma)
    assert out.dtype == torch.float64
    assert torch.equal(out, c_skip * x + c_out * f.net((c_in * x).float(), c_noise[:, 0].float()).double())
    assert torch.equal(f(x, 0.002), x)  # the boundary condition, exactly, in float64 too
    # The same weights in float64: everything in float64, within float32 rounding of the float32 model.
    g = Precond(MLP(dim=2), sigma_data=1.0, sigma_min=0.002)
    g.load_state_dict(f.state_dict())
    g = g.double()
    assert torch.equal(g(x, sigma), c_skip * x + c_out * g.net(c_in * x, c_noise[:, 0]))
    assert torch.allclose(g(x, sigma), f(x.float(), sigma.float()).double(), atol=1e-5)
