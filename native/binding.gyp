{
  "targets": [
    {
      "target_name": "slice86_native",
      "sources": ["src/addon.c", "src/codec-context.c", "src/page-run.c", "src/sparse-write.c", "src/lzo1x.c", "src/incompressible.c"],
      "cflags": ["-O2", "-std=c11", "-pthread", "-Wall", "-Wextra"],
      "libraries": ["-ldeflate", "-lsnappy", "-lzstd", "-lm", "-pthread"]
    }
  ]
}
