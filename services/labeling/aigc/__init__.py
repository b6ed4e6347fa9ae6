"""A GB 45438 labeling library: the `AIGC` metadata label, its integrity data and file carriers.

Pure byte-level work for most formats; keys and time come from the caller. OGG and Matroska
labels and the audio/video explicit labels run ffmpeg/ffprobe (`ff.py`) on temporary files.
Used by the `labeling` service (to issue labels) and by the `dsgov-label` CLI (to embed,
inspect, verify and burn them).
"""
