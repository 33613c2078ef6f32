{
  "targets": [
    {
      "target_name": "megacomet",
      "sources": [
        "native/addon.cc",
        "native/doorbell.cc",
        "native/engine.cc",
        "native/server.cc",
        "native/acceptor.cc",
        "native/connections.cc",
        "native/request_reader.cc",
        "native/response_writer.cc",
        "native/event_stream.cc",
        "native/connection_close.cc",
        "native/connection_timers.cc",
        "native/event_loop.cc",
        "native/event_batch.cc",
        "native/connection_table.cc",
        "native/http_parser.cc",
        "native/http_response.cc",
        "native/timer_wheel.cc"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": [
        "-fexceptions"
      ],
      "cflags_cc!": [
        "-fexceptions",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-isystem <!(node -p \"require('path').resolve(require('node-addon-api').include_dir)\")",
        "-std=c++20",
        "-fno-exceptions",
        "-Wall",
        "-Wextra",
        "-Wshadow",
        "-Wconversion",
        "-Wno-sign-conversion",
        "-Wno-unused-parameter",
        "-O2"
      ]
    }
  ]
}