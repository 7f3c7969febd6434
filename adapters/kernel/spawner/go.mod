module github.com/cybozu-go/coil-ts/adapters/kernel/spawner

go 1.26.0
