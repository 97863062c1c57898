{
  "targets": [
    {
      "target_name": "slice86_native",
      "sources": ["src/addon.c", "src/lzo1x.c", "src/incompressible.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-ldeflate", "-lsnappy", "-lzstd", "-lm"]
    }
  ]
}
