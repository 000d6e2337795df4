import matplotlib.pyplot as plt
import numpy as np

from cm_toy.plots import plot_floor_ratio


def test_plot_floor_ratio_draws_curves_floor_and_target():
    nfe = np.array([7, 15, 31, 63])
    ax = plot_floor_ratio(nfe, {"Heun": [20.0, 4.0, 1.2, 1.0], "Euler": [25.0, 11.0, 5.0, 2.6]}, target=1.5)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Heun", "Euler", "noise floor", "target 1.5x"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert np.allclose(ax.get_lines()[0].get_ydata(), [20.0, 4.0, 1.2, 1.0])
    plt.close(ax.figure)
