"""Studies built on the measuring machinery: dt/precision trade-offs, profiling
(compile stages, memory, traces, the network build), and the noise study."""
