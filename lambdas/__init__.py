"""The deploy tier's functions: one folder a Lambda, each importing only `matrx_ship`."""
