module coil-ts/cluster-images

go 1.22
