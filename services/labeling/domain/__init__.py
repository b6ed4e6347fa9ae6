"""Pure rules of the labeling service: what label to issue, and the LB-9 log of unlabeled copies."""
