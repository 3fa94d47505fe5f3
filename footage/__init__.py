"""People in real footage: find them, follow them, cut one sequence per walker.

Footage from a static camera often shows several people at once, entering and leaving; the
gait networks want one person per sequence, centred and whole. Needs no downloaded weights.

Modules, one job each:
  detection  per-frame person boxes: background-subtraction blobs (MOG2 or KNN, primed with the
             clip's median background) fused with OpenCV's built-in HOG people detector run
             on the moving regions.
  tracking   multi-object tracking of those boxes: a Kalman filter per person (filterpy) and
             optimal assignment (scipy's linear_sum_assignment) frame by frame.
  tracks     tracks -> walker sequences: gaps filled, boxes smoothed, square crops that keep the
             person centred and whole, the short ones skipped and listed, ids `<source>#tNNN`.
  walkers    `track_walkers(frames, ...)`: the three above as one pure function, and the
             "no walker found" outcome.
"""
