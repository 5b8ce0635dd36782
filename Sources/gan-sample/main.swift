import ToolSupport
import ArgumentParser

// Placeholder: this tool arrives with its issue.
print("gan-sample: not implemented yet")
