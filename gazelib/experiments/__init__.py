"""Many runs: experiment grids behind every table and figure, the engines that train them
(serial, several processes, a cluster), and reruns that check a record reproduces."""
