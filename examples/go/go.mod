module oomless/examples/go

go 1.19

require oomless/contrib/go v0.0.0

replace oomless/contrib/go => ../../contrib/go
