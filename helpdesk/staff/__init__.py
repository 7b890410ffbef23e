"""What staff see and decide: the queue's views, approve/reject/correct/reply, their emails handed over."""
