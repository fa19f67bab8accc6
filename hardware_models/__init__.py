"""hardware_models: device physics, crossbar tiles, spiking neuron parameter sets, cost models,
device cards and exporters. numpy, scipy and numba only: importing this package never imports
torch or brian2, so it can be used on its own or from another simulator."""

__version__ = "0.1.0"
