"""Spiking substrate internals (Brian2): backend selection, the stacked network, the rate-model
surrogate and EqProp training with spiking phases. The substrate itself is
:class:`analogeq.substrates.spiking.SpikingSubstrate`."""
