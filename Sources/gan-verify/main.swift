import ToolSupport
import ArgumentParser

// Placeholder: this tool arrives with its issue.
print("gan-verify: not implemented yet")
