module github.com/xpush/xpush

go 1.26
