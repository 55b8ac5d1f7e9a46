// LeafDemo
