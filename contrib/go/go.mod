module oomless/contrib/go

go 1.19
